"""Training corpora for domain tuning (BrainGPT): PubMed abstracts and PMC open-access full texts."""

from brainbench.corpus.build import Journal, collect, corpus_stats, finalize, load_journals
from brainbench.data.corpus import read_corpus

__all__ = ["Journal", "collect", "corpus_stats", "finalize", "load_journals", "read_corpus"]
