"""Training corpora for domain tuning (BrainGPT): PubMed abstracts and PMC open-access full texts."""

from brainbench.corpus.build import Journal, collect, corpus_stats, finalize, load_journals, normalize_doi, read_corpus
from brainbench.corpus.eutils import EUtilsClient, EUtilsError
from brainbench.corpus.parse import Document, parse_pmc, parse_pubmed

__all__ = [
    "Document",
    "EUtilsClient",
    "EUtilsError",
    "Journal",
    "collect",
    "corpus_stats",
    "finalize",
    "load_journals",
    "normalize_doi",
    "parse_pmc",
    "parse_pubmed",
    "read_corpus",
]
