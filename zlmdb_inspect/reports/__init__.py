"""reports/ — the report modes (--json --check --prometheus --watch --dump --serve-metrics), their
document and check lines, the fleet report, the Prometheus exporter and CSV. Never Textual or Rich."""

__all__ = ["csvout", "document", "fleet", "modes", "prometheus"]
