"""Interface strings, Chinese first with English switchable (cookie ``lang`` or ``?lang=en``).

A plain table keeps the strings next to each other for translators and needs no compile step; the
domain data itself (names, abstracts) is Chinese and is not translated.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

STRINGS: dict[str, tuple[str, str]] = {
    "app.name": ("城市中台", "Zhongtai City Platform"),
    "nav.catalog": ("资源目录", "Catalog"),
    "nav.systems": ("信息系统", "Systems"),
    "nav.departments": ("部门", "Departments"),
    "nav.tokens": ("API 令牌", "API tokens"),
    "nav.api_docs": ("接口文档", "API docs"),
    "nav.login": ("登录", "Sign in"),
    "nav.logout": ("退出", "Sign out"),
    "login.title": ("登录城市中台", "Sign in to Zhongtai"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.invalid": ("用户名或密码错误", "Wrong username or password"),
    "login.locked": (
        "登录失败次数过多,请稍后再试",
        "Too many failed sign-ins; try again later",
    ),
    "catalog.title": ("政务信息资源目录", "Government information resource catalog"),
    "catalog.search": ("搜索资源名称、摘要、信息项", "Search names, abstracts, items"),
    "catalog.search_button": ("搜索", "Search"),
    "catalog.new": ("登记资源", "Register resource"),
    "catalog.edit": ("编辑", "Edit"),
    "catalog.total": ("共 {n} 条", "{n} entries"),
    "catalog.none": ("没有符合条件的资源", "No matching resources"),
    "catalog.all": ("全部", "All"),
    "catalog.filter": ("筛选", "Filter"),
    "field.code": ("资源代码", "Resource code"),
    "field.name": ("资源名称", "Name"),
    "field.classification": ("资源分类", "Classification"),
    "field.category": ("资源类别", "Category"),
    "field.provider": ("提供方", "Provider"),
    "field.department": ("部门", "Department"),
    "field.abstract": ("资源摘要", "Abstract"),
    "field.format": ("资源格式", "Format"),
    "field.sharing_type": ("共享类型", "Sharing type"),
    "field.sharing_conditions": ("共享条件", "Sharing conditions"),
    "field.sharing_basis": ("不予共享依据", "Legal basis for not sharing"),
    "field.sharing_modes": ("共享方式", "Sharing modes"),
    "field.open_type": ("开放类型", "Open type"),
    "field.open_conditions": ("开放条件", "Open conditions"),
    "field.update_cycle": ("更新周期", "Update cycle"),
    "field.source_system": ("来源系统", "Source system"),
    "field.publish_date": ("发布日期", "Publish date"),
    "field.related": ("关联资源代码", "Related resource codes"),
    "field.status": ("状态", "Status"),
    "field.version": ("版本", "Version"),
    "field.items": ("信息项", "Information items"),
    "field.item_name": ("信息项名称", "Item name"),
    "field.data_type": ("数据类型", "Data type"),
    "field.length": ("长度", "Length"),
    "field.data_element": ("数据元", "Data element"),
    "field.sensitive": ("敏感", "Sensitive"),
    "field.description": ("描述", "Description"),
    "field.kind": ("类型", "Kind"),
    "field.comment": ("意见", "Comment"),
    "field.actor": ("操作人", "Actor"),
    "field.time": ("时间", "Time"),
    "field.action": ("操作", "Action"),
    "detail.history": ("流转记录", "Lifecycle history"),
    "detail.versions": ("版本历史", "Version history"),
    "form.save": ("保存", "Save"),
    "form.cancel": ("取消", "Cancel"),
    "form.modes_hint": ("可多选", "choose one or more"),
    "form.related_hint": ("多个代码以空格或逗号分隔", "separate codes with spaces or commas"),
    "systems.title": ("信息系统", "Information systems"),
    "systems.new": ("登记信息系统", "Register a system"),
    "departments.title": ("部门", "Departments"),
    "tokens.title": ("API 令牌", "API tokens"),
    "tokens.new": ("生成新令牌", "Create a token"),
    "tokens.shown_once": ("请立即复制,此令牌只显示一次:", "Copy it now; it is shown only once:"),
    "tokens.revoke": ("吊销", "Revoke"),
    "tokens.revoked": ("已吊销", "Revoked"),
    "error.title": ("出错了", "Something went wrong"),
    "action.submit": ("提交审核", "Submit for review"),
    "action.withdraw": ("撤回", "Withdraw"),
    "action.approve": ("审核通过并发布", "Approve and publish"),
    "action.reject": ("退回修改", "Send back"),
    "action.retire": ("停用", "Retire"),
    "status.draft": ("草稿", "Draft"),
    "status.under_review": ("审核中", "Under review"),
    "status.published": ("已发布", "Published"),
    "status.retired": ("已停用", "Retired"),
    "status.active": ("在用", "Active"),
    "category.base": ("基础信息资源", "Base"),
    "category.thematic": ("主题信息资源", "Thematic"),
    "category.departmental": ("部门信息资源", "Departmental"),
    "sharing_type.unconditional": ("无条件共享", "Unconditional"),
    "sharing_type.conditional": ("有条件共享", "Conditional"),
    "sharing_type.not_shared": ("不予共享", "Not shared"),
    "sharing_mode.api": ("接口", "API"),
    "sharing_mode.file": ("文件", "File"),
    "sharing_mode.table_sync": ("库表同步", "Table sync"),
    "open_type.open": ("无条件开放", "Open"),
    "open_type.conditional": ("有条件开放", "Conditionally open"),
    "open_type.not_open": ("不予开放", "Not open"),
    "update_cycle.realtime": ("实时", "Real-time"),
    "update_cycle.daily": ("每日", "Daily"),
    "update_cycle.weekly": ("每周", "Weekly"),
    "update_cycle.monthly": ("每月", "Monthly"),
    "update_cycle.quarterly": ("每季度", "Quarterly"),
    "update_cycle.yearly": ("每年", "Yearly"),
    "format.table": ("数据库表", "Database table"),
    "format.file": ("电子文件", "File"),
    "format.api": ("接口", "API"),
    "format.spatial": ("地理空间数据", "Geospatial"),
    "format.media": ("图像音视频", "Media"),
    "format.other": ("其他", "Other"),
    "kind.municipal": ("市直部门", "Municipal bureau"),
    "kind.district": ("区县", "District / county"),
    "kind.zone": ("开发区", "Development zone"),
    "page.prev": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
}


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return value
    return DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[..., str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        pair = STRINGS.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t
