"""The controlled vocabularies a new installation starts with (an admin edits them afterwards), and
the default pool and check-in settings."""

LEVELS = [("A", "战略客户", {"recycle_days": 90}), ("B", "重点客户", {"recycle_days": 60}),
          ("C", "普通客户", {"recycle_days": 30})]
SOURCES = [("exhibition", "展会"), ("referral", "转介绍"), ("website", "官网"), ("telemarketing", "电话营销"),
           ("advertising", "广告"), ("partner", "合作伙伴"), ("other", "其他")]
REGIONS = [("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省"), ("140000", "山西省"),
           ("150000", "内蒙古自治区"), ("210000", "辽宁省"), ("220000", "吉林省"), ("230000", "黑龙江省"),
           ("310000", "上海市"), ("320000", "江苏省"), ("330000", "浙江省"), ("340000", "安徽省"),
           ("350000", "福建省"), ("360000", "江西省"), ("370000", "山东省"), ("410000", "河南省"),
           ("420000", "湖北省"), ("430000", "湖南省"), ("440000", "广东省"), ("450000", "广西壮族自治区"),
           ("460000", "海南省"), ("500000", "重庆市"), ("510000", "四川省"), ("520000", "贵州省"),
           ("530000", "云南省"), ("540000", "西藏自治区"), ("610000", "陕西省"), ("620000", "甘肃省"),
           ("630000", "青海省"), ("640000", "宁夏回族自治区"), ("650000", "新疆维吾尔自治区"),
           ("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区")]
# GB/T 4754-2017 sections, with a few divisions as an example of the tree.
INDUSTRIES = [("A", "农、林、牧、渔业", None), ("B", "采矿业", None), ("C", "制造业", None),
              ("C36", "汽车制造业", "C"), ("C39", "计算机、通信和其他电子设备制造业", "C"),
              ("D", "电力、热力、燃气及水生产和供应业", None), ("E", "建筑业", None), ("F", "批发和零售业", None),
              ("G", "交通运输、仓储和邮政业", None), ("H", "住宿和餐饮业", None),
              ("I", "信息传输、软件和信息技术服务业", None), ("I65", "软件和信息技术服务业", "I"),
              ("J", "金融业", None), ("K", "房地产业", None), ("L", "租赁和商务服务业", None),
              ("M", "科学研究和技术服务业", None), ("P", "教育", None), ("Q", "卫生和社会工作", None),
              ("R", "文化、体育和娱乐业", None), ("S", "公共管理、社会保障和社会组织", None)]


def default_terms():
    """Rows for `vocab_terms`."""
    rows = []
    for i, (code, label, attrs) in enumerate(LEVELS):
        rows.append(dict(vocabulary="level", code=code, label=label, parent_code=None, position=i, attrs=attrs))
    for vocabulary, terms in (("source", SOURCES), ("region", REGIONS)):
        for i, (code, label) in enumerate(terms):
            rows.append(dict(vocabulary=vocabulary, code=code, label=label, parent_code=None, position=i, attrs=None))
    for i, (code, label, parent) in enumerate(INDUSTRIES):
        rows.append(dict(vocabulary="industry", code=code, label=label, parent_code=parent, position=i, attrs=None))
    for row in rows:
        row["active"] = True
    return rows


SETTINGS = {
    "pool.default_recycle_days": 30,     # per level: vocab_terms.attrs.recycle_days of the level
    "pool.warn_days": 5,                 # the owner is warned this many days before recycling
    "pool.exempt_won": True,             # customers (status customer, or a won opportunity) are never recycled
    "pool.exempt_open_opportunity": True,
    "pool.max_held": 200,                # records one salesperson may hold
    "pool.max_claims_per_day": 20,
    "pool.cooldown_days": 7,             # a previous owner may not reclaim within this many days
    "pool.warning_process": None,        # a process key started (business key = customer id) to warn the owner
    "checkin.max_distance_m": 1000,      # farther than this from the customer's address is flagged
    "checkin.max_photo_bytes": 10 * 1024 * 1024,
}
