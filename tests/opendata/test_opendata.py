"""Open data: a resource opened by release rules — refused while a column still looks personal (whatever
it is called), released as versions, served to the CKAN client ``ckanapi`` unmodified, with CKAN's
errors for bad input; a value of an item the rules drop never leaves by any door."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric

from tests.factories import World, add_resource, build_world
from tests.opendata.helpers import governed
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.catalog.models import OpenType, Resource
from zhongtai.core.database import transaction
from zhongtai.core.errors import Invalid
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.governance.models import CleanRecord
from zhongtai.opendata import rules, service

ADMIN = platform_actor("admin", "admin")
CANARY = "CANARY-7f3a9c"
ITEMS = [
    {"name": "企业名称", "data_type": "string", "length": 200},
    {"name": "法定代表人", "data_type": "string", "length": 50, "data_element": "DE00001", "sensitive": True},
    {"name": "法定代表人身份号码", "data_type": "string", "length": 18, "sensitive": True},
    {"name": "联系电话", "data_type": "string", "length": 20, "sensitive": True},
    {"name": "住所", "data_type": "string", "length": 200},
    {"name": "成立日期", "data_type": "date"},
    {"name": "备注", "data_type": "string", "length": 200},
]
RULES = {"企业名称": "keep", "住所": "district", "成立日期": "month"}


def an_id(n: int) -> str:
    stem = f"340104{1960 + n % 40}0{1 + n % 9}1{n % 10}{n % 1000:03d}"
    return stem + ric.calc_check_digit(stem + "0")


def _register(factory: sessionmaker[Session], rows: int = 23) -> str:
    code = add_resource(
        factory, "SJZYJ", name="企业登记基本信息", open_type="open", items=ITEMS, abstract="全市企业登记"
    )
    districts = ["蜀山区", "包河区", "瑶海区"]
    enterprises = [
        {
            "企业名称": f"庐州市第{n}号科技有限公司",
            "法定代表人": "张三",
            "法定代表人身份号码": an_id(n),
            "联系电话": f"1391234{n:04d}",
            "住所": f"安徽省庐州市{districts[n % 3]}某路{n}号",
            "成立日期": f"20{10 + n % 10}-0{1 + n % 9}-15",
            "备注": CANARY,
        }
        for n in range(1, rows + 1)
    ]
    governed(factory, code, enterprises)
    return code


def test_a_release_is_refused_while_a_column_looks_personal(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    code = _register(factory)
    attempts = [
        ({**RULES, "法定代表人身份号码": "keep"}, "法定代表人身份号码", "id_number"),
        ({**RULES, "联系电话": "keep"}, "联系电话", "mobile"),
        ({**RULES, "法定代表人": "keep"}, "法定代表人", "person_name"),  # known by its data element
    ]
    for wanted, column, what in attempts:
        with transaction(factory) as session, pytest.raises(Invalid) as refused:
            service.publish(session, settings, ADMIN, code, wanted)
        assert refused.value.field == column and what in refused.value.message
    with factory() as session:  # nothing half-written
        assert service.entries(session) == []
    with transaction(factory) as session:
        published = service.publish(session, settings, ADMIN, code, RULES, tags=["企业"])
    assert published.release.version == 1 and published.release.rows == 23
    assert published.release.columns == ["企业名称", "住所", "成立日期"]


@given(
    name=st.text(min_size=1, max_size=12).filter(lambda t: t.strip()),
    numbers=st.lists(st.integers(1, 999), min_size=1, max_size=40),
)
def test_a_column_of_id_numbers_is_refused_whatever_its_name(name: str, numbers: list[int]) -> None:
    column = [{name: an_id(n)} for n in numbers]
    found = rules.personal_columns(column, [name], {})
    assert [(f.column, f.what) for f in found] == [(name, "id_number")]


@given(st.lists(st.sampled_from(["2021-03-04", "2021年3月4日", "20210304", None, "未知"]), max_size=10))
def test_generalised_dates_keep_no_day(values: list[str | None]) -> None:
    for value in values:
        month = rules.generalise("month", value, ())
        assert month is None or (len(month) == 7 and month[4] == "-")


@dataclass
class Site:
    base: str
    factory: sessionmaker[Session]
    name: str
    settings: Settings


@pytest.fixture
def site(settings: Settings, factory: sessionmaker[Session]) -> Iterator[Site]:
    """A live server on each backend, with one dataset opened from 57 registered enterprises."""
    build_world(factory)
    code = _register(factory, rows=57)
    with transaction(factory) as session:
        name = service.publish(session, settings, ADMIN, code, RULES, tags=["企业", "登记"]).dataset.name
    with served(create_app(settings)) as base:
        yield Site(base, factory, name, settings)


def test_ckanapi_reads_the_portal_unmodified(site: Site) -> None:
    ckanapi = pytest.importorskip("ckanapi")
    portal = ckanapi.RemoteCKAN(site.base)
    found = portal.action.package_search(q="企业登记", rows=10, **{"facet.field": '["organization","tags"]'})
    assert found["count"] == 1 and found["results"][0]["name"] == site.name
    assert {i["name"] for i in found["search_facets"]["tags"]["items"]} == {"企业", "登记"}
    assert portal.action.package_search(q="不存在的词")["count"] == 0
    assert portal.action.package_search(fq="organization:sjzyj")["count"] == 1
    dataset = portal.action.package_show(id=site.name)
    assert dataset["organization"]["title"] == "数据资源局" and dataset["num_resources"] == 3
    assert {r["format"] for r in dataset["resources"]} == {"CSV", "JSON", "XLSX"}
    assert portal.action.package_show(id=dataset["id"])["name"] == site.name
    assert portal.action.package_list() == [site.name]
    orgs = portal.action.organization_list(all_fields=True)
    assert orgs[0]["name"] == "sjzyj" and orgs[0]["package_count"] == 1
    assert portal.action.organization_show(id="sjzyj")["title"] == "数据资源局"
    assert portal.action.tag_list() == ["企业", "登记"]
    assert portal.action.group_list() == ["gove"]
    csv = next(r for r in dataset["resources"] if r["format"] == "CSV")
    assert portal.action.resource_show(id=csv["id"])["url"].endswith("/download.csv")
    records, offset = [], 0
    while True:  # paging through every row, as a harvester does
        page = portal.action.datastore_search(resource_id=csv["id"], limit=10, offset=offset)
        records += page["records"]
        offset += 10
        if offset >= page["total"]:
            break
    assert len(records) == 57 and {r["_id"] for r in records} == set(range(1, 58))
    assert set(records[0]) == {"_id", "企业名称", "住所", "成立日期"}
    assert all(r["住所"] in ("蜀山区", "包河区", "瑶海区") and len(r["成立日期"]) == 7 for r in records)
    shushan = portal.action.datastore_search(resource_id=csv["id"], filters={"住所": "蜀山区"}, limit=1000)
    assert shushan["total"] == 19 and all(r["住所"] == "蜀山区" for r in shushan["records"])
    sorted_page = portal.action.datastore_search(
        resource_id=csv["id"], sort="_id desc", limit=2, fields=["_id"]
    )
    assert sorted_page["records"] == [{"_id": 57}, {"_id": 56}]
    with pytest.raises(ckanapi.NotFound):
        portal.action.package_show(id="no-such-dataset")
    with pytest.raises(ckanapi.ValidationError):
        portal.action.datastore_search(resource_id=csv["id"], filters={"法定代表人身份号码": "x"})
    with pytest.raises(ckanapi.ValidationError):
        portal.action.package_search(rows=100000)
    with pytest.raises(ckanapi.SearchQueryError):
        portal.action.package_search(fq='organization:"sjzyj')
    with pytest.raises(ckanapi.NotAuthorized):
        portal.action.datastore_search_sql(sql="SELECT * FROM open_rows")


def test_ckan_errors_come_in_ckans_envelope_never_a_500(site: Site) -> None:
    import httpx

    with httpx.Client(base_url=site.base, timeout=10) as client:
        for path, status, kind in [
            ("/api/3/action/no_such_action", 400, "Bad Request"),
            ("/api/3/action/package_search?start=-1", 409, "Validation Error"),
            ("/api/3/action/package_search?q=';DROP TABLE open_rows;--", 200, None),
            ("/api/3/action/datastore_search?resource_id=nope", 404, "Not Found Error"),
            ("/api/3/action/package_show", 409, "Validation Error"),
            ('/api/action/package_search?facet.field=["secret"]', 400, "Search Query Error"),
        ]:
            answer = client.get(path)
            body = answer.json()
            assert answer.status_code == status and "help" in body, path
            assert body["success"] is (kind is None) and (kind is None or body["error"]["__type"] == kind), (
                path
            )
        posted = client.post("/api/3/action/package_search", content=b"{not json")
        assert posted.status_code == 409 and posted.json()["error"]["__type"] == "Validation Error"
        assert client.post("/api/3/action/package_search", json={"q": "企业"}).json()["result"]["count"] == 1


def test_a_dropped_value_never_leaves_by_any_door(site: Site) -> None:
    import httpx

    with httpx.Client(base_url=site.base, timeout=10) as client:
        texts = [
            client.get("/api/3/action/package_search?q=*:*").text,
            client.get(f"/api/3/action/package_show?id={site.name}").text,
            client.get(f"/open/datasets/{site.name}/download.csv").text,
            client.get(f"/open/datasets/{site.name}/download.json").text,
        ]
        dataset = client.get(f"/api/3/action/package_show?id={site.name}").json()["result"]
        csv_id = dataset["resources"][0]["id"]
        texts.append(
            client.get(f"/api/3/action/datastore_search?resource_id={csv_id}&limit=1000&q={CANARY}").text
        )
        texts.append(client.get(f"/api/3/action/datastore_search?resource_id={csv_id}&limit=1000").text)
        book = load_workbook(io.BytesIO(client.get(f"/open/datasets/{site.name}/download.xlsx").content))
        texts.append(
            json.dumps([list(r) for r in book.active.iter_rows(values_only=True)], ensure_ascii=False)
        )
    for found in texts:
        assert CANARY not in found and "张三" not in found and an_id(7) not in found
    assert "庐州市第7号科技有限公司" in texts[2]  # the released columns are there


def test_versions_and_a_resource_that_stops_being_open(site: Site) -> None:
    import httpx

    with transaction(site.factory) as session:
        code = session.scalar(select(Resource.code).where(Resource.name == "企业登记基本信息"))
        assert code
        second = service.publish(session, site.settings, ADMIN, code, {**RULES, "成立日期": "year"})
    assert second.release.version == 2
    with httpx.Client(base_url=site.base, timeout=10) as client:
        current = client.get(f"/open/datasets/{site.name}/download.csv").text
        old = client.get(f"/open/datasets/{site.name}/download.csv?version=1").text
        assert ",20" in current and "-" not in current.splitlines()[1].split(",")[-1]  # years now
        assert len(old.splitlines()[1].split(",")[-1]) == 7  # months in version 1, still downloadable
        with transaction(site.factory) as session:
            session.execute(update(Resource).where(Resource.code == code).values(open_type=OpenType.NOT_OPEN))
        gone = client.get(f"/api/3/action/package_show?id={site.name}")
        never = client.get("/api/3/action/package_show?id=zt-never-existed")
        assert gone.status_code == never.status_code == 404
        assert gone.json()["error"] == never.json()["error"]
        assert client.get(f"/open/datasets/{site.name}/download.csv").status_code == 404


def test_an_anonymous_flood_is_limited_in_ckans_envelope(client: TestClient, world: World) -> None:
    from zhongtai.opendata import endpoints

    saved = endpoints.FLOOD.per_minute
    endpoints.FLOOD.per_minute = 5
    try:
        answers = [client.get("/api/3/action/status_show") for _ in range(8)]
    finally:
        endpoints.FLOOD.per_minute = saved
    assert [a.status_code for a in answers].count(429) >= 3
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["success"] is False and limited.headers["retry-after"] == "60"


SHAPES = Path(__file__).parents[2] / "src/zhongtai/opendata/shapes/dcat-ap-3.0.ttl"


def test_dcat_ap_metadata_conforms_to_the_shapes_in_every_serialization(site: Site) -> None:
    import httpx
    from pyshacl import validate
    from rdflib import Graph
    from rdflib.namespace import DCAT, DCTERMS, RDF

    shapes = Graph().parse(SHAPES, format="turtle")
    with httpx.Client(base_url=site.base, timeout=10) as client:
        for suffix, form in (("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml")):
            for path in (f"/open/catalog.{suffix}", f"/open/datasets/{site.name}.{suffix}"):
                answer = client.get(path)
                assert answer.status_code == 200, path
                graph = Graph().parse(data=answer.text, format=form)
                conforms, _, report = validate(graph, shacl_graph=shapes)
                assert conforms, report
                assert CANARY not in answer.text
                assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 1
                assert len(list(graph.subjects(RDF.type, DCAT.Distribution))) == 3
                assert len(list(graph.subjects(RDF.type, DCAT.DataService))) == 1
                media = {str(o) for o in graph.objects(None, DCAT.mediaType)}
                assert "http://www.iana.org/assignments/media-types/text/csv" in media
                assert (None, RDF.type, DCTERMS.MediaType) in graph
        assert client.get("/open/catalog.xyz").status_code == 404
        assert client.get("/open/datasets/zt-nope.ttl").status_code == 404


def test_the_shapes_refuse_a_distribution_without_an_access_url() -> None:
    from pyshacl import validate
    from rdflib import Graph

    broken = Graph().parse(
        data="""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
        <http://x/d> a dcat:Dataset ; dct:title "t" ; dct:description "d" ; dcat:distribution <http://x/r> .
        <http://x/r> a dcat:Distribution ; dcat:mediaType <http://x/csv> .
        <http://x/csv> a dct:MediaType .""",
        format="turtle",
    )
    conforms, _, report = validate(broken, shacl_graph=Graph().parse(SHAPES, format="turtle"))
    assert not conforms and "accessURL" in report


def test_the_portal_for_anyone_in_chinese_and_english(site: Site) -> None:
    import httpx

    with httpx.Client(base_url=site.base, timeout=10) as client:
        portal = client.get("/open?q=企业")
        assert (
            portal.status_code == 200 and "企业登记基本信息" in portal.text and "共 1 个数据集" in portal.text
        )
        assert "数据资源局" in portal.text  # the provider facet
        filtered = client.get("/open", params={"fq": 'organization:"sjzyj"'})
        assert "共 1 个数据集" in filtered.text
        broken = client.get("/open", params={"fq": 'organization:"'})
        assert broken.status_code == 200 and "筛选条件无法识别" in broken.text
        page = client.get(f"/open/datasets/{site.name}")
        assert page.status_code == 200 and "庐州市第1号科技有限公司" in page.text  # the preview
        assert f"/open/datasets/{site.name}/download.csv?version=1" in page.text and ".ttl" in page.text
        assert CANARY not in page.text and "张三" not in page.text
        english = client.get(f"/open/datasets/{site.name}?lang=en")
        assert "Downloads" in english.text and "Preview" in english.text
        assert client.get("/open/datasets/zt-nope").status_code == 404


def test_a_refresh_releases_a_version_only_when_the_rows_change(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    from zhongtai.core.principal import SYSTEM

    code = _register(factory, rows=0)
    with transaction(factory) as session:  # nothing governed yet: the dataset waits, unlisted
        waiting = service.publish(session, settings, ADMIN, code, RULES)
        assert waiting.release is None and service.entries(session) == []
    with transaction(factory) as session:
        resource = session.scalar(select(Resource).where(Resource.code == code))
        assert resource is not None
        session.add(
            CleanRecord(
                job_id=1,
                source_key="a",
                resource_id=resource.id,
                pass_id=1,
                batch_id=1,
                rule_version=1,
                data={"企业名称": "甲公司", "住所": "安徽省庐州市蜀山区"},
                changes=None,
            )
        )
    with transaction(factory) as session:
        first = service.refresh(session, settings, SYSTEM, code)
        assert first is not None and first.release is not None and first.release.version == 1
    with transaction(factory) as session:
        same = service.refresh(session, settings, SYSTEM, code)
        assert same is not None and same.changed is False and same.release and same.release.version == 1
    with transaction(factory) as session:  # a row of a personal item changes: not let out, no new version
        row = session.get(CleanRecord, (1, "a"))
        assert row is not None
        row.data = {**row.data, "法定代表人身份号码": an_id(3)}
    with transaction(factory) as session:
        assert service.refresh(session, settings, SYSTEM, code).changed is False  # type: ignore[union-attr]
    with transaction(factory) as session:
        row = session.get(CleanRecord, (1, "a"))
        assert row is not None
        row.data = {**row.data, "企业名称": "甲公司(更名)"}
    with transaction(factory) as session:
        again = service.refresh(session, settings, SYSTEM, code)
        assert again is not None and again.release is not None and again.release.version == 2
    with transaction(factory) as session:
        assert service.refresh(session, settings, SYSTEM, "999999-999999") is None


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"区": st.sampled_from(["蜀山区", "包河区", "瑶海区"]), "类": st.sampled_from("ABCD")}
        ),
        max_size=120,
    )
)
def test_aggregated_releases_never_show_a_small_count(rows: list[dict[str, str]]) -> None:
    released = rules.aggregated(rows, {"区": "count", "类": "count"}, ())
    truth = {
        (r["区"], r["类"]): sum(1 for x in rows if (x["区"], x["类"]) == (r["区"], r["类"])) for r in rows
    }
    for row in released:
        shown = row[rules.COUNT_COLUMN]
        assert shown is None or (shown == truth.get((row["区"], row["类"]), 0) and not 0 < shown < 10)
    listed = {(r["区"], r["类"]) for r in released}
    assert set(truth) <= listed  # every combination with rows is there (hidden or shown)


def test_an_aggregated_release_counts_by_district_and_hides_small_cells(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    code = _register(factory, rows=40)
    counted = {"住所": "count:district", "成立日期": "count:year"}
    with transaction(factory) as session, pytest.raises(Invalid) as mixed:
        service.publish(session, settings, ADMIN, code, {**counted, "企业名称": "keep"})
    assert mixed.value.field == "rules"
    with transaction(factory) as session, pytest.raises(Invalid) as personal:
        service.publish(session, settings, ADMIN, code, {"法定代表人身份号码": "count"})
    assert personal.value.code == "personal_column"
    with transaction(factory) as session:
        published = service.publish(session, settings, ADMIN, code, {"住所": "count:district"})
        assert published.release is not None and published.release.columns == ["住所", "数量"]
        by_district = {r["住所"]: r["数量"] for r in service.rows(session, published.release)}
    assert sum(v for v in by_district.values() if v) <= 40 and set(by_district) == {
        "蜀山区",
        "包河区",
        "瑶海区",
    }
    assert all(v is None or v >= 10 for v in by_district.values())
