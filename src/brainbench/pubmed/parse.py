"""Documents out of NCBI XML: PubMed records (title + abstract) and PMC JATS articles (body text).

From a JATS body only running text is kept: section titles and paragraphs, without figures,
tables, formulas, supplementary material or the reference list.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass

_SKIPPED_JATS = {
    "fig",
    "table-wrap",
    "disp-formula",
    "supplementary-material",
    "ref-list",
    "fn-group",
    "ack",
    "app-group",
}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Document:
    """One training document."""

    pmid: str | None
    pmcid: str | None
    doi: str | None
    journal: str
    year: int | None
    section: str  # "abstract" or "full_text"
    text: str

    def record(self) -> dict:
        return asdict(self)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _year(text: str | None) -> int | None:
    match = re.search(r"\d{4}", text or "")
    return int(match.group()) if match else None


def parse_pubmed(root: ET.Element) -> list[Document]:
    """Every PubmedArticle of a PubmedArticleSet that has an abstract."""
    documents = []
    for article in root.iter("PubmedArticle"):
        citation = article.find("MedlineCitation")
        if citation is None:
            continue
        abstract = citation.find("Article/Abstract")
        if abstract is None:
            continue
        parts = []
        for piece in abstract.findall("AbstractText"):
            text = _clean("".join(piece.itertext()))
            label = piece.get("Label")
            if text:
                parts.append(f"{label}: {text}" if label and label.upper() != "UNLABELLED" else text)
        if not parts:
            continue
        title = (
            _clean("".join(citation.find("Article/ArticleTitle").itertext()))
            if citation.find("Article/ArticleTitle") is not None
            else ""
        )
        ids = {
            node.get("IdType"): (node.text or "").strip()
            for node in article.findall("PubmedData/ArticleIdList/ArticleId")
        }
        pub_date = citation.find("Article/Journal/JournalIssue/PubDate")
        year = _year(pub_date.findtext("Year") or pub_date.findtext("MedlineDate")) if pub_date is not None else None
        documents.append(
            Document(
                pmid=(citation.findtext("PMID") or "").strip() or None,
                pmcid=ids.get("pmc") or None,
                doi=(ids.get("doi") or "").lower() or None,
                journal=_clean(
                    citation.findtext("Article/Journal/Title")
                    or citation.findtext("MedlineJournalInfo/MedlineTA")
                    or ""
                ),
                year=year,
                section="abstract",
                text="\n".join([title, *parts]) if title else "\n".join(parts),
            )
        )
    return documents


def _running_text(element: ET.Element, out: list[str]) -> None:
    """Section titles and paragraphs under ``element``, skipping figures, tables and the like."""
    for child in element:
        if child.tag in _SKIPPED_JATS:
            continue
        if child.tag in ("p", "title"):
            text = _clean("".join(_text_without_skipped(child)))
            if text:
                out.append(text)
        else:
            _running_text(child, out)


def _text_without_skipped(element: ET.Element) -> list[str]:
    pieces = [element.text or ""]
    for child in element:
        if child.tag not in _SKIPPED_JATS:
            pieces.extend(_text_without_skipped(child))
        pieces.append(child.tail or "")
    return pieces


def parse_pmc(root: ET.Element) -> list[Document]:
    """Every JATS article of a pmc-articleset that has body text."""
    documents = []
    for article in root.iter("article"):
        body = article.find("body")
        if body is None:
            continue
        paragraphs: list[str] = []
        _running_text(body, paragraphs)
        if not paragraphs:
            continue
        meta = article.find("front/article-meta")
        ids = {
            node.get("pub-id-type"): (node.text or "").strip()
            for node in (meta.findall("article-id") if meta is not None else [])
        }
        pmcid = ids.get("pmc") or ids.get("pmcid")
        if pmcid and not pmcid.upper().startswith("PMC"):
            pmcid = f"PMC{pmcid}"
        year = None
        if meta is not None:
            year = next(
                (_year(date.findtext("year")) for date in meta.findall("pub-date") if date.findtext("year")), None
            )
        documents.append(
            Document(
                pmid=ids.get("pmid") or None,
                pmcid=pmcid or None,
                doi=(ids.get("doi") or "").lower() or None,
                journal=_clean(
                    article.findtext("front/journal-meta/journal-title-group/journal-title")
                    or article.findtext("front/journal-meta/journal-title")
                    or ""
                ),
                year=year,
                section="full_text",
                text="\n".join(paragraphs),
            )
        )
    return documents


def normalize_doi(doi: str | None) -> str | None:
    """'https://doi.org/10.1523/JNEUROSCI.1-2.2023' -> '10.1523/jneurosci.1-2.2023'."""
    if not doi:
        return None
    doi = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    return doi or None
