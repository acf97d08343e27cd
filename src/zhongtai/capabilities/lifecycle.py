"""Capability and app-subscription lifecycles, declared in one place.

    capability:    draft ──publish──► published ──deprecate──► deprecated ──retire──► retired
                     └──────────────────retire──────────────────────┴──────────────────┘
    subscription:  pending ──approve──► approved ──cancel──► cancelled
                      ├──reject──► rejected
                      └──cancel──► cancelled

A deprecated capability still serves its approved subscribers and takes no new subscriptions; a retired
one serves nobody. Data and platform capabilities whose resource is shared unconditionally are approved
on subscription; the rest wait for the provider department (or the bureau).
"""

from __future__ import annotations

from zhongtai.capabilities.models import CapabilityStatus, SubscriptionStatus

C = CapabilityStatus
CAPABILITY_TRANSITIONS: dict[str, tuple[frozenset[CapabilityStatus], CapabilityStatus]] = {
    "publish": (frozenset({C.DRAFT}), C.PUBLISHED),
    "deprecate": (frozenset({C.PUBLISHED}), C.DEPRECATED),
    "retire": (frozenset({C.DRAFT, C.PUBLISHED, C.DEPRECATED}), C.RETIRED),
}
S = SubscriptionStatus
SUBSCRIPTION_TRANSITIONS: dict[str, tuple[frozenset[SubscriptionStatus], SubscriptionStatus]] = {
    "approve": (frozenset({S.PENDING}), S.APPROVED),
    "reject": (frozenset({S.PENDING}), S.REJECTED),
    "cancel": (frozenset({S.PENDING, S.APPROVED}), S.CANCELLED),
}
