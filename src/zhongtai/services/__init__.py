"""政务服务: service items whose materials shared data replaces, cases handled on the platform's grants,
the ledger of what was saved (减少材料提交)."""
