"""reports/ — the report modes (--json --check --prometheus --watch --dump --serve-metrics), their
document and check lines, the fleet report, the Prometheus exporter, CSV, and --compare/--checksum.
Never Textual or Rich."""

__all__ = ["compare", "csvout", "document", "fleet", "modes", "prometheus"]
