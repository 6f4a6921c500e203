"""PubMed and PMC through NCBI E-utilities: the client and the parsers that corpus building and test-case
authoring share."""

from brainbench.pubmed.eutils import EUTILS_URL, EUtilsClient, EUtilsError, SearchResult
from brainbench.pubmed.parse import Document, normalize_doi, parse_pmc, parse_pubmed

__all__ = [
    "EUTILS_URL",
    "Document",
    "EUtilsClient",
    "EUtilsError",
    "SearchResult",
    "normalize_doi",
    "parse_pmc",
    "parse_pubmed",
]
