"""The big screen (可视化大屏) and risk-crowd profiling (风险人群精准画像): the platform's figures live on one
page, from rollups kept incrementally (``core.rollups``), and risk groups as suppressed aggregates."""
