"""Labels that pages look up by a computed key (``_('run.' ~ status)``): enum values, audit chains, error
statuses. Each is marked here so that ``make i18n`` extracts it into the catalogs; the i18n tests check that
every value of the enums behind them has a label in both languages."""

from __future__ import annotations

from zhongtai.core.i18n import N_

COMPUTED_LABELS = (
    # action.*
    N_("action.approve"),
    N_("action.reject"),
    N_("action.retire"),
    N_("action.submit"),
    N_("action.withdraw"),
    # attr.*
    N_("attr.address"),
    N_("attr.birth_date"),
    N_("attr.capital"),
    N_("attr.division_code"),
    N_("attr.ethnicity"),
    N_("attr.founded_on"),
    N_("attr.gender"),
    N_("attr.holder"),
    N_("attr.holder_id"),
    N_("attr.issued_on"),
    N_("attr.issuer"),
    N_("attr.latitude"),
    N_("attr.legal_representative"),
    N_("attr.longitude"),
    N_("attr.name"),
    N_("attr.phone"),
    N_("attr.registered_by"),
    N_("attr.scope"),
    N_("attr.subject"),
    N_("attr.type"),
    N_("attr.valid_from"),
    N_("attr.valid_to"),
    # audit.chain.*
    N_("audit.chain.access"),
    N_("audit.chain.admin"),
    # base.*
    N_("base.address"),
    N_("base.entity"),
    N_("base.license"),
    N_("base.person"),
    # cap.kind.*
    N_("cap.kind.data"),
    N_("cap.kind.platform"),
    N_("cap.kind.proxy"),
    # cap.op.*
    N_("cap.op.license_verify"),
    N_("cap.op.list"),
    N_("cap.op.lookup"),
    N_("cap.op.proxy"),
    N_("cap.op.verify"),
    # cap.status.*
    N_("cap.status.deprecated"),
    N_("cap.status.draft"),
    N_("cap.status.published"),
    N_("cap.status.retired"),
    # cap.sub.*
    N_("cap.sub.approved"),
    N_("cap.sub.cancelled"),
    N_("cap.sub.pending"),
    N_("cap.sub.rejected"),
    # category.*
    N_("category.base"),
    N_("category.departmental"),
    N_("category.thematic"),
    # error.status.*
    N_("error.status.400"),
    N_("error.status.401"),
    N_("error.status.403"),
    N_("error.status.404"),
    N_("error.status.405"),
    N_("error.status.409"),
    N_("error.status.413"),
    N_("error.status.422"),
    N_("error.status.429"),
    N_("error.status.500"),
    N_("error.status.503"),
    # format.*
    N_("format.api"),
    N_("format.file"),
    N_("format.media"),
    N_("format.other"),
    N_("format.spatial"),
    N_("format.table"),
    # kind.*
    N_("kind.district"),
    N_("kind.municipal"),
    N_("kind.zone"),
    # mask.*
    N_("mask.address"),
    N_("mask.bank_card"),
    N_("mask.full"),
    N_("mask.id_number"),
    N_("mask.mobile"),
    N_("mask.name"),
    N_("mask.none"),
    # mode.*
    N_("mode.full"),
    N_("mode.incremental"),
    # object_kind.*
    N_("object_kind.endpoint"),
    N_("object_kind.files"),
    N_("object_kind.query"),
    N_("object_kind.table"),
    # open_type.*
    N_("open_type.conditional"),
    N_("open_type.not_open"),
    N_("open_type.open"),
    # problem.*
    N_("problem.active"),
    N_("problem.all"),
    N_("problem.assigned"),
    N_("problem.closed"),
    N_("problem.fixed"),
    N_("problem.open"),
    # problem_text.*
    N_("problem_text.completeness"),
    N_("problem_text.consistency"),
    N_("problem_text.timeliness"),
    N_("problem_text.uniqueness"),
    N_("problem_text.validity"),
    # req.action.*
    N_("req.action.assign"),
    N_("req.action.confirm"),
    N_("req.action.deliver"),
    N_("req.action.file"),
    N_("req.action.reject"),
    N_("req.action.reopen"),
    N_("req.action.start"),
    # req.kind.*
    N_("req.kind.collaboration"),
    N_("req.kind.data"),
    N_("req.kind.technology"),
    # req.status.*
    N_("req.status.assigned"),
    N_("req.status.closed"),
    N_("req.status.delivered"),
    N_("req.status.filed"),
    N_("req.status.in_progress"),
    N_("req.status.rejected"),
    # run.*
    N_("run.failed"),
    N_("run.interrupted"),
    N_("run.running"),
    N_("run.skipped"),
    N_("run.succeeded"),
    # share.action.*
    N_("share.action.bureau_approve"),
    N_("share.action.bureau_reject"),
    N_("share.action.bureau_return"),
    N_("share.action.provider_approve"),
    N_("share.action.provider_reject"),
    N_("share.action.provider_return"),
    N_("share.action.resubmit"),
    N_("share.action.submit"),
    N_("share.action.withdraw"),
    # share.delivery.*
    N_("share.delivery.dead"),
    N_("share.delivery.delivered"),
    N_("share.delivery.failed"),
    N_("share.delivery.held"),
    # share.grant_status.*
    N_("share.grant_status.active"),
    N_("share.grant_status.revoked"),
    # share.mode.*
    N_("share.mode.api"),
    N_("share.mode.file"),
    N_("share.mode.subscription"),
    # share.queue.*
    N_("share.queue.all"),
    N_("share.queue.applied"),
    N_("share.queue.bureau"),
    N_("share.queue.provider"),
    # share.status.*
    N_("share.status.bureau_review"),
    N_("share.status.provider_review"),
    N_("share.status.returned"),
    N_("share.status.withdrawn"),
    # sharing_mode.*
    N_("sharing_mode.api"),
    N_("sharing_mode.file"),
    N_("sharing_mode.table_sync"),
    # sharing_type.*
    N_("sharing_type.conditional"),
    N_("sharing_type.not_shared"),
    N_("sharing_type.unconditional"),
    # source_kind.*
    N_("source_kind.database"),
    N_("source_kind.file"),
    N_("source_kind.http"),
    # status.*
    N_("status.draft"),
    N_("status.published"),
    N_("status.under_review"),
    # trigger.*
    N_("trigger.cli"),
    N_("trigger.demo"),
    N_("trigger.manual"),
    N_("trigger.schedule"),
    # update_cycle.*
    N_("update_cycle.daily"),
    N_("update_cycle.monthly"),
    N_("update_cycle.quarterly"),
    N_("update_cycle.realtime"),
    N_("update_cycle.weekly"),
    N_("update_cycle.yearly"),
)
