"""The demo city's departments and their information systems (庐州市, a synthetic city)."""

from __future__ import annotations

# (code, name, English name, kind, parent code)
DEPARTMENTS: list[tuple[str, str, str, str, str | None]] = [
    ("SJZYJ", "庐州市数据资源局", "Data Resource Bureau", "municipal", None),
    ("GAJ", "庐州市公安局", "Public Security Bureau", "municipal", None),
    ("MZJ", "庐州市民政局", "Civil Affairs Bureau", "municipal", None),
    ("SCJGJ", "庐州市市场监督管理局", "Market Regulation Administration", "municipal", None),
    ("WJW", "庐州市卫生健康委员会", "Health Commission", "municipal", None),
    ("ZJJ", "庐州市住房和城乡建设局", "Housing and Urban-Rural Development Bureau", "municipal", None),
    ("ZRZYJ", "庐州市自然资源和规划局", "Natural Resources and Planning Bureau", "municipal", None),
    ("SWJ", "国家税务总局庐州市税务局", "Taxation Bureau", "municipal", None),
    ("RSJ", "庐州市人力资源和社会保障局", "Human Resources and Social Security Bureau", "municipal", None),
    ("JYJ", "庐州市教育局", "Education Bureau", "municipal", None),
    ("JTJ", "庐州市交通运输局", "Transport Bureau", "municipal", None),
    ("YJJ", "庐州市应急管理局", "Emergency Management Bureau", "municipal", None),
    ("YBJ", "庐州市医疗保障局", "Healthcare Security Bureau", "municipal", None),
    ("SFJ", "庐州市司法局", "Justice Bureau", "municipal", None),
    ("GJJ", "庐州市住房公积金管理中心", "Housing Provident Fund Centre", "municipal", None),
    ("YHQ", "瑶海区人民政府", "Yaohai District", "district", None),
    ("LYQ", "庐阳区人民政府", "Luyang District", "district", None),
    ("SSQ", "蜀山区人民政府", "Shushan District", "district", None),
    ("BHQ", "包河区人民政府", "Baohe District", "district", None),
    ("GXQ", "庐州高新技术产业开发区管委会", "High-tech Industrial Development Zone", "zone", None),
    ("YHQ-MZ", "瑶海区民政局", "Yaohai District Civil Affairs", "district", "YHQ"),
]

# department code -> [(system code, name, description)]
SYSTEMS: dict[str, list[tuple[str, str, str]]] = {
    "SJZYJ": [("SJZYJ-ZTPT", "城市中台", "数据归集、治理、共享交换与能力开放平台")],
    "GAJ": [
        ("GAJ-RKXT", "常住人口信息管理系统", "户籍人口登记、迁移、变更"),
        ("GAJ-CRJ", "出入境管理系统", "出入境证件受理与签发"),
        ("GAJ-JDC", "机动车驾驶人管理系统", "驾驶证与机动车登记"),
    ],
    "MZJ": [
        ("MZJ-HYDJ", "婚姻登记管理系统", "结婚、离婚登记与补领"),
        ("MZJ-SHJZ", "社会救助管理系统", "最低生活保障、特困供养"),
        ("MZJ-DMDZ", "地名地址管理系统", "标准地名、门楼牌与地址坐标"),
        ("MZJ-YLFW", "养老服务管理系统", "养老机构备案与服务监管"),
    ],
    "SCJGJ": [
        ("SCJGJ-QYDJ", "企业登记注册系统", "企业设立、变更、注销登记"),
        ("SCJGJ-XYGS", "企业信用信息公示系统", "年报、行政处罚、经营异常名录"),
    ],
    "WJW": [
        ("WJW-QMJK", "全民健康信息平台", "电子健康档案与电子病历"),
        ("WJW-HSJC", "核酸检测信息系统", "核酸采样与检测结果"),
        ("WJW-YZGL", "医疗机构和医师执业管理系统", "医疗机构执业登记、医师执业注册"),
    ],
    "ZJJ": [
        ("ZJJ-FWJY", "房屋交易管理系统", "商品房合同备案、存量房交易"),
        ("ZJJ-BZF", "住房保障管理系统", "公租房申请与审核"),
    ],
    "ZRZYJ": [("ZRZYJ-BDC", "不动产登记信息管理平台", "不动产首次、转移、抵押登记")],
    "SWJ": [("SWJ-JS", "税收征管系统", "纳税人登记、申报、缴款")],
    "RSJ": [
        ("RSJ-SB", "社会保险信息系统", "参保登记、缴费、待遇发放"),
        ("RSJ-JY", "就业服务系统", "就业登记、失业登记"),
    ],
    "JYJ": [("JYJ-XJ", "中小学学籍管理系统", "学生学籍与招生入学")],
    "JTJ": [("JTJ-DLYS", "道路运输管理系统", "道路运输经营许可与从业资格")],
    "YJJ": [("YJJ-AQSC", "安全生产监管系统", "企业安全生产许可与执法检查")],
    "YBJ": [("YBJ-YBJS", "医疗保障信息平台", "医保参保与结算")],
    "SFJ": [
        ("SFJ-GZ", "公证管理系统", "公证受理与出证"),
        ("SFJ-LSGL", "律师管理系统", "律师执业许可与年度考核"),
    ],
    "GJJ": [("GJJ-YW", "住房公积金业务系统", "缴存、提取、贷款")],
    "YHQ": [
        ("YHQ-ZWFW", "瑶海区政务服务系统", "区级政务服务事项受理"),
        ("YHQ-WGH", "瑶海区网格化管理系统", "社区网格与事件处置"),
    ],
    "LYQ": [("LYQ-ZWFW", "庐阳区政务服务系统", "区级政务服务事项受理")],
    "SSQ": [("SSQ-ZWFW", "蜀山区政务服务系统", "区级政务服务事项受理")],
    "BHQ": [
        ("BHQ-ZWFW", "包河区政务服务系统", "区级政务服务事项受理"),
        ("BHQ-WGH", "包河区网格化管理系统", "社区网格与事件处置"),
    ],
    "GXQ": [("GXQ-QYFW", "高新区企业服务平台", "园区企业服务与政策兑现")],
    "YHQ-MZ": [("YHQ-MZ-JZ", "瑶海区社会救助系统", "区级救助审核")],
}

# username, department, roles, Chinese display name
DEMO_USERS: list[tuple[str, str, list[str], str]] = [
    ("admin", "SJZYJ", ["operator"], "平台管理员"),
    ("reviewer", "SJZYJ", ["reviewer"], "目录审核员"),
    ("auditor", "SJZYJ", ["auditor"], "安全审计员"),
    ("screen", "SJZYJ", ["screen"], "指挥中心大屏"),
    ("gaj.officer", "GAJ", ["officer"], "公安数据专员"),
    ("gaj.reviewer", "GAJ", ["reviewer"], "公安共享审核员"),
    ("mzj.officer", "MZJ", ["officer"], "民政数据专员"),
    ("scjgj.officer", "SCJGJ", ["officer"], "市场监管数据专员"),
    ("wjw.officer", "WJW", ["officer"], "卫健数据专员"),
    ("wjw.consumer", "WJW", ["consumer"], "卫健数据使用人"),
    ("wjw.developer", "WJW", ["developer"], "健康码应用开发者"),
    ("zjj.officer", "ZJJ", ["officer"], "住建数据专员"),
    ("zjj.consumer", "ZJJ", ["consumer"], "住建数据使用人"),
    ("rsj.developer", "RSJ", ["developer"], "人社应用开发者"),
    ("rsj.officer", "RSJ", ["officer"], "人社数据专员"),
    ("rsj.reviewer", "RSJ", ["reviewer"], "人社共享审核员"),
    ("yhq.officer", "YHQ", ["officer"], "瑶海区数据专员"),
    ("ssq.reviewer", "SSQ", ["reviewer"], "蜀山区街道场所码审核员"),
    ("zjj.caseworker", "ZJJ", ["caseworker"], "住房保障窗口办件员"),
    ("mzj.caseworker", "MZJ", ["caseworker"], "民政协办人员"),
    ("zrzyj.caseworker", "ZRZYJ", ["caseworker"], "不动产登记窗口办件员"),
    ("zrzyj.officer", "ZRZYJ", ["officer"], "自然资源数据专员"),
    ("sfj.caseworker", "SFJ", ["caseworker"], "公证执业审批人员"),
    ("sfj.officer", "SFJ", ["officer"], "司法数据专员"),
    ("gaj.caseworker", "GAJ", ["caseworker"], "户政窗口办件员"),
    ("scjgj.caseworker", "SCJGJ", ["caseworker"], "食品经营许可审批人员"),
]
