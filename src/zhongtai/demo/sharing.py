"""The demo city's sharing: the health commission applies for population data and is granted it by the
bureau and the public security bureau; other applications wait in the bureau's and providers' queues,
one was returned for changes and one refused with a reason. Built through the same services as the API.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource, ResourceStatus, SharingType
from zhongtai.core.database import transaction
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.service import principal_for
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.demo import subscriber
from zhongtai.orgs.models import Department
from zhongtai.sharing import service
from zhongtai.sharing.models import Application, DeliveryMode
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.schemas import ApplicationCreate

POPULATION = "常住人口基本信息"
# (applicant, resource name, items wanted (first n), purpose, basis, steps as (user, action, comment))
STORIES: list[tuple[str, str, int, str, str, list[tuple[str, str, str]]]] = [
    (
        "wjw.consumer",
        POPULATION,
        4,
        "核酸检测结果关联居民身份,推送健康码赋码",
        "《中华人民共和国传染病防治法》第十二条;市疫情防控指挥部通知",
        [("reviewer", "bureau_approve", ""), ("gaj.reviewer", "provider_approve", "同意,限疫情防控使用")],
    ),
    (
        "zjj.consumer",
        POPULATION,
        2,
        "住房保障资格审核,免交户口簿复印件",
        "《公共租赁住房管理办法》第七条",
        [],
    ),
    (
        "zjj.consumer",
        "社会保险参保信息",
        3,
        "公租房申请人就业状况核验",
        "《公共租赁住房管理办法》第七条",
        [("reviewer", "bureau_approve", "")],
    ),
    (
        "wjw.consumer",
        "社会保险参保信息",
        6,
        "医疗机构人员统计",
        "内部工作需要",
        [("reviewer", "bureau_return", "用途与所申请信息项不对应,请按最小必要原则删减信息项")],
    ),
    (
        "zjj.consumer",
        "核酸检测结果信息",
        5,
        "工地人员管理",
        "工作需要",
        [("reviewer", "bureau_reject", "申请依据不足:检测结果属敏感个人信息,需明确法律依据")],
    ),
]
MODE_BY_SHARING = {
    "table_sync": DeliveryMode.SUBSCRIPTION,
    "api": DeliveryMode.API,
    "file": DeliveryMode.FILE,
}


def build_demo_sharing(
    factory: sessionmaker[Session], settings: Settings, subscriber_url: str | None = None
) -> int:
    """Play the stories once; returns how many applications the demo holds. With ``subscriber_url`` the
    health commission subscribes its system (``demo/subscriber.py``) to the population grant."""
    with transaction(factory) as session:
        if session.scalar(select(func.count()).select_from(Application)):
            return session.scalar(select(func.count()).select_from(Application)) or 0
        users = principals(
            session, settings, {name for story in STORIES for name in (story[0], *(s[0] for s in story[5]))}
        )
        played = 0
        for index, (applicant, name, wanted, purpose, basis, steps) in enumerate(STORIES):
            resource = _shared_resource(session, name, users[applicant], index)
            if name == POPULATION:  # the registry syncs its population table to subscribers
                resource.sharing_modes = sorted({*resource.sharing_modes, "api", "table_sync"})
            application = service.apply(
                session,
                settings,
                users[applicant],
                ApplicationCreate(
                    resource=resource.code,
                    items=[item.name for item in resource.items][:wanted],
                    purpose=purpose,
                    basis=basis,
                    mode=MODE_BY_SHARING[sorted(resource.sharing_modes, reverse=True)[0]],
                    valid_until=utcnow().astimezone(CITY_ZONE).date().replace(month=12, day=31),
                ),
            )
            for user, action, comment in steps:
                service.act(session, settings, users[user], application.number, action, comment)
            grant = SharingRepository(session).grant_of(application.id)
            if subscriber_url and grant is not None and grant.mode is DeliveryMode.SUBSCRIPTION:
                _, secret = service.subscribe(session, settings, users[applicant], grant.id, subscriber_url)
                subscriber.save_secret(settings, secret)
            played += 1
        return played


def principals(session: Session, settings: Settings, names: Iterable[str]) -> dict[str, Principal]:
    """The demo users named, as principals (they exist: the city was built first)."""
    repo = IdentityRepository(session)
    found = {}
    for name in names:
        user = repo.user_by_username(name)
        assert user is not None, name
        found[name] = principal_for(user, settings)
    return found


def _shared_resource(session: Session, name: str, applicant: Principal, index: int) -> Resource:
    """The published, conditionally shared resource of that name from another department; where the
    seed left it unpublished, another such resource (the same one for the same seed)."""
    query = (
        select(Resource)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            Resource.sharing_type == SharingType.CONDITIONAL,
            Resource.provider_department_id != applicant.department_id,
        )
        .order_by(Resource.id)
    )
    candidates = [r for r in session.scalars(query) if r.sharing_modes]
    named = [r for r in candidates if r.name == name]
    assert candidates, "the demo catalog has no conditionally shared resource"
    return named[0] if named else candidates[index % len(candidates)]
