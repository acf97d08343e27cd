"""DCAT-AP 3.0 metadata of the open-data portal (https://semiceu.github.io/DCAT-AP/releases/3.0.0/), made
with rdflib: the catalog, each dataset with its distributions (the CSV, JSON and XLSX downloads, with IANA
media types and the EU file types), the CKAN-compatible API as a ``dcat:DataService``, publishers as
``foaf:Agent``, contact points as ``vcard:Kind``, themes from the EU data theme vocabulary as
``skos:Concept``; titles and descriptions in Chinese (and English where known). Every value node is typed
with the class DCAT-AP gives as the property's range, so a harvester that checks ranges accepts it.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from zhongtai.opendata import ckan, service
from zhongtai.opendata.service import Entry

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCAT3 = Namespace("http://www.w3.org/ns/dcat#")  # rdflib's DCAT is DCAT 2, closed: dcat:version is DCAT 3
THEME = Namespace("http://publications.europa.eu/resource/authority/data-theme/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
LICENCE = Namespace("http://publications.europa.eu/resource/authority/licence/")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
IANA = "http://www.iana.org/assignments/media-types/"
LICENCES = {"cc-by-4.0": "CC_BY_4_0", "cc0-1.0": "CC0", "odc-by": "ODC_BY"}
FREQUENCIES = {"realtime": "UPDATE_CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
               "quarterly": "QUARTERLY", "yearly": "ANNUAL", "irregular": "IRREG"}  # fmt: skip
FORMATS = {"text/csv": "CSV", "application/json": "JSON",
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX"}  # fmt: skip
SERIALIZATIONS = {"ttl": ("turtle", "text/turtle"), "jsonld": ("json-ld", "application/ld+json"),
                  "rdf": ("xml", "application/rdf+xml")}  # fmt: skip
SITE_TITLE = ("庐州市公共数据开放平台", "Luzhou City Open Data Portal")


def _bind(graph: Graph) -> Graph:
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("vcard", VCARD),
        ("skos", SKOS),
    ):
        graph.bind(prefix, namespace)
    return graph


def _typed(graph: Graph, node: URIRef | BNode, kind: URIRef) -> URIRef | BNode:
    graph.add((node, RDF.type, kind))
    return node


def _agent(graph: Graph, found: Entry, base_url: str) -> URIRef:
    agent = URIRef(f"{base_url}/open/organizations/{found.department.code.lower()}")
    _typed(graph, agent, FOAF.Agent)
    graph.add((agent, FOAF.name, Literal(found.department.name, lang="zh")))
    return agent


def _contact(graph: Graph, found: Entry, base_url: str) -> BNode:
    point = BNode()
    _typed(graph, point, VCARD.Kind)
    graph.add((point, VCARD.fn, Literal(f"{found.department.name}数据开放联络人", lang="zh")))
    graph.add((point, VCARD.hasURL, URIRef(f"{base_url}/open/organizations/{found.department.code.lower()}")))
    return point


def _distribution(graph: Graph, found: Entry, kind: str, base_url: str) -> URIRef:
    name = found.dataset.name
    _, mimetype = ckan.FORMATS[kind]
    download = URIRef(f"{base_url}/open/datasets/{name}/download.{kind}")
    node = URIRef(f"{base_url}/open/datasets/{name}#distribution-{kind}")
    _typed(graph, node, DCAT.Distribution)
    graph.add((node, DCAT.accessURL, URIRef(f"{base_url}/open/datasets/{name}")))
    if found.dataset.access == "open":  # conditionally open data is downloaded only under an application
        graph.add((node, DCAT.downloadURL, download))
    graph.add((node, DCTERMS.title, Literal(f"{found.dataset.title} ({kind.upper()})", lang="zh")))
    graph.add((node, DCAT.mediaType, _typed(graph, URIRef(IANA + mimetype), DCTERMS.MediaType)))
    graph.add((node, DCTERMS.format, _typed(graph, FILE_TYPE[FORMATS[mimetype]], DCTERMS.MediaTypeOrExtent)))
    licence = LICENCE[LICENCES.get(found.dataset.license_id, "CC_BY_4_0")]
    graph.add((node, DCTERMS.license, _typed(graph, licence, DCTERMS.LicenseDocument)))
    if found.release is not None:
        graph.add(
            (node, DCTERMS.modified, Literal(found.release.created_at.isoformat(), datatype=XSD.dateTime))
        )
    return node


def _dataset(graph: Graph, found: Entry, base_url: str) -> URIRef:
    dataset = found.dataset
    node = URIRef(f"{base_url}/open/datasets/{dataset.name}")
    _typed(graph, node, DCAT.Dataset)
    graph.add((node, DCTERMS.identifier, Literal(service.dataset_uuid(dataset.name))))
    graph.add((node, DCTERMS.title, Literal(dataset.title, lang="zh")))
    graph.add((node, DCTERMS.description, Literal(dataset.notes or dataset.title, lang="zh")))
    graph.add((node, DCTERMS.publisher, _agent(graph, found, base_url)))
    graph.add((node, DCAT.contactPoint, _contact(graph, found, base_url)))
    theme = THEME[dataset.theme]
    graph.add((node, DCAT.theme, _typed(graph, theme, SKOS.Concept)))
    graph.add((theme, SKOS.prefLabel, Literal(ckan.THEMES.get(dataset.theme, dataset.theme), lang="zh")))
    for tag in dataset.tags:
        graph.add((node, DCAT.keyword, Literal(tag, lang="zh")))
    frequency = FREQUENCIES.get(found.resource.update_cycle.value)
    if frequency:
        graph.add((node, DCTERMS.accrualPeriodicity, _typed(graph, FREQUENCY[frequency], DCTERMS.Frequency)))
    graph.add((node, DCTERMS.issued, Literal(dataset.created_at.isoformat(), datatype=XSD.dateTime)))
    graph.add((node, DCTERMS.modified, Literal(dataset.modified_at.isoformat(), datatype=XSD.dateTime)))
    if found.release is not None:
        graph.add((node, DCAT3.version, Literal(str(found.release.version))))
    access = "PUBLIC" if dataset.access == "open" else "RESTRICTED"
    right = URIRef(f"http://publications.europa.eu/resource/authority/access-right/{access}")
    graph.add((node, DCTERMS.accessRights, _typed(graph, right, DCTERMS.RightsStatement)))
    graph.add(
        (
            node,
            DCAT.landingPage,
            _typed(graph, URIRef(f"{base_url}/open/datasets/{dataset.name}"), FOAF.Document),
        )
    )
    for kind in ckan.FORMATS:
        graph.add((node, DCAT.distribution, _distribution(graph, found, kind, base_url)))
    return node


def _service(graph: Graph, base_url: str, datasets: list[URIRef]) -> URIRef:
    api = URIRef(f"{base_url}/api/3/action/")
    _typed(graph, api, DCAT.DataService)
    graph.add((api, DCTERMS.title, Literal("CKAN 兼容数据接口", lang="zh")))
    graph.add((api, DCTERMS.title, Literal("CKAN-compatible Action API", lang="en")))
    graph.add((api, DCAT.endpointURL, URIRef(f"{base_url}/api/3/action/")))
    graph.add((api, DCAT.endpointDescription, URIRef("https://docs.ckan.org/en/2.10/api/")))
    for dataset in datasets:
        graph.add((api, DCAT.servesDataset, dataset))
    return api


def catalog_graph(found: list[Entry], base_url: str) -> Graph:
    graph = _bind(Graph())
    catalog = URIRef(f"{base_url}/open/catalog")
    _typed(graph, catalog, DCAT.Catalog)
    graph.add((catalog, DCTERMS.title, Literal(SITE_TITLE[0], lang="zh")))
    graph.add((catalog, DCTERMS.title, Literal(SITE_TITLE[1], lang="en")))
    graph.add(
        (
            catalog,
            DCTERMS.description,
            Literal("城市中台开放的政务数据:无条件开放与有条件开放的数据集。", lang="zh"),
        )
    )
    graph.add((catalog, DCTERMS.description, Literal("Government data the city platform opens.", lang="en")))
    bureau = URIRef(f"{base_url}/open/organizations/platform")
    _typed(graph, bureau, FOAF.Agent)
    graph.add((bureau, FOAF.name, Literal("数据资源局", lang="zh")))
    graph.add((catalog, DCTERMS.publisher, bureau))
    graph.add((catalog, FOAF.homepage, _typed(graph, URIRef(f"{base_url}/open"), FOAF.Document)))
    datasets = [_dataset(graph, e, base_url) for e in found]
    for dataset in datasets:
        graph.add((catalog, DCAT.dataset, dataset))
    graph.add((catalog, DCAT.service, _service(graph, base_url, datasets)))
    return graph


def dataset_graph(found: Entry, base_url: str) -> Graph:
    graph = _bind(Graph())
    _service(graph, base_url, [_dataset(graph, found, base_url)])
    return graph


def serialize(graph: Graph, suffix: str) -> tuple[str, str]:
    """The graph in the serialization a suffix names (ttl, jsonld, rdf), and its media type."""
    form, media = SERIALIZATIONS[suffix]
    return graph.serialize(format=form), media
