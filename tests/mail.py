"""A small mail platform for stage tests: balancer pair, frontends, scanners with their central server,
the store on a SAN, LDAP and the blocklist service, with one inbound mail class that a test shapes."""

from __future__ import annotations

import copy

X4100 = "sun-x4100-opteron-2.4"
SERVICE = "imt-service-host"


def mail_platform(
    horizon="1h",
    drain="0s",
    volume="0.5/s",
    mail=None,
    mailboxes=None,
    faults=(),
    platform=None,
    exim=None,
    classes=None,
) -> dict:
    """Raw scenario data; ``mail`` updates the one class ``m`` (or give ``classes`` in full)."""
    one = {
        "share": 1.0,
        "sender": {"retrying_share": 0.0},
        "recipients": {"dist": "constant", "value": 1},
        "size": {"dist": "constant", "value": "4KB"},
        "spam_score": {"dist": "constant", "value": 0},
    }
    one.update(mail or {})
    plat = {
        "blocklist": {"members": [{"count": 1, "hardware": SERVICE}]},
        "load_balancer": {"members": [{"count": 2, "hardware": "cisco-css-11503"}]},
        "frontend": {
            "members": [{"count": 2, "hardware": X4100}],
            "demand": {"dist": "constant", "value": "5ms"},
            "blocklist_lookup": {"dist": "constant", "value": "10ms"},
        },
        "scanner": {
            "members": [{"count": 2, "hardware": X4100}],
            "demand": {"dist": "constant", "value": "50ms"},
        },
        "scan_central": {"members": [{"count": 1, "hardware": X4100}]},
        "store": {
            "members": [{"count": 1, "hardware": X4100}],
            "demand": {"dist": "constant", "value": "10ms"},
        },
        "san": {"members": [{"count": 1, "hardware": "iscsi-san"}]},
        "ldap": {
            "members": [{"count": 1, "hardware": SERVICE}],
            "servers": 4,
            "demand": {"dist": "constant", "value": "2ms"},
        },
    }
    for cls, extra in (platform or {}).items():
        plat.setdefault(cls, {}).update(extra)
    boxes = {"count": 100}
    boxes.update(mailboxes or {})
    return {
        "meta": {"name": "mail"},
        "clock": {"start": "2010-05-03 00:00", "horizon": horizon, "drain": drain},
        "platform": copy.deepcopy(plat),
        "workload": {
            "mailboxes": boxes,
            "inbound": {"volume": volume, "classes": copy.deepcopy(classes) or {"m": one}},
        },
        "policies": {"exim": {"queue_interval": "5m", **(exim or {})}},
        "faults": list(faults),
        "outputs": {"report": False},
    }


def submission(classes=None, kerberos=0.0, retry="F,1d,10m", **extra) -> dict:
    """A ``workload.submission`` section: by default one class ``out`` of outbound mail, 1 recipient."""
    one = {
        "per_mailbox": "20/day",
        "local": 0.0,
        "recipients": {"dist": "constant", "value": 1},
        "size": {"dist": "constant", "value": "8KB"},
    }
    return {
        "kerberos": kerberos,
        "client": {"retrying_share": 1.0, "retry": retry, "retry_interval_max": "1h"},
        "classes": copy.deepcopy(classes) or {"out": one},
        **extra,
    }


def users_platform(sub=None, remote=None, inbound=False, **kw) -> dict:
    """``mail_platform`` with the users' submission (``sub``), a KDC, the remote domains (``remote``) and,
    unless ``inbound``, no mail from the Internet."""
    data = mail_platform(**kw)
    data["platform"]["kdc"] = {
        "members": [{"count": 1, "hardware": SERVICE}],
        "servers": 2,
        "demand": {"dist": "constant", "value": "1ms"},
    }
    data["workload"]["submission"] = sub or submission()
    data["workload"]["remote"] = {
        "domains": 10,
        "popularity": 1.0,
        "names": ["big.example"],
        **(remote or {}),
    }
    if not inbound:
        data["workload"]["inbound"]["enabled"] = False
    return data


def lists_section(**extra) -> dict:
    """A ``workload.lists`` section: one list of 10 members here, a post an hour."""
    return {
        "count": 1,
        "members": {"dist": "constant", "value": 10},
        "local": 1.0,
        "posts": "24/day",
        "kerberos": 0.0,
        "retry": {"retry": "F,5d,1h", "retry_interval_max": "1h"},
        "post": {"size": {"dist": "constant", "value": "4KB"}},
        **extra,
    }


def lists_platform(lists=None, **kw) -> dict:
    """``users_platform`` with the list server and Mailman's lists (``lists`` updates ``lists_section``), and
    no other traffic: the users' own mail is switched off."""
    kw.setdefault("mailboxes", {"count": 2000})
    data = users_platform(**kw)
    data["workload"]["submission"]["enabled"] = False
    data["platform"]["lists"] = {
        "members": [{"count": 1, "hardware": X4100}],
        "demand": {"dist": "constant", "value": "20ms"},
    }
    data["workload"]["lists"] = lists_section(**(lists or {}))
    return data
