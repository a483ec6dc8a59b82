"""`manage.py graph_workflows [-o DIR] [--format svg|dot] [--language ja|en]`

Writes one diagram per registered department workflow (`<department_code>.svg`) and the case and
handoff machines (`case_state.svg`, `referral_state.svg`) into DIR (default var/diagrams/).
`--format dot` writes the Graphviz sources (`.gv`) and needs no `dot` binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from referral_engine.cases.models import Case, Referral
from referral_engine.workflow import diagrams
from referral_engine.workflow import registry as workflow_registry


class Command(BaseCommand):
    help = "Draw every department workflow and the case and handoff state machines as SVG."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "-o",
            "--output",
            dest="output",
            default=str(Path(settings.BASE_DIR) / "var" / "diagrams"),
            help="Output directory (default: var/diagrams/).",
        )
        parser.add_argument("--format", choices=["svg", "dot"], default="svg", help="svg (needs Graphviz) or dot.")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE, help="Language of the labels (ja or en).")

    def handle(self, *args: Any, **options: Any) -> None:
        fmt = options["format"]
        if fmt == "svg" and diagrams.dot_binary() is None:
            raise CommandError(
                "Graphviz `dot` was not found: install it (Debian: apt-get install graphviz) "
                "or run with --format dot to write the sources."
            )
        out = Path(options["output"])
        out.mkdir(parents=True, exist_ok=True)
        with translation.override(options["language"]):
            graphs = [(w.department_code, diagrams.workflow_digraph(w)) for w in workflow_registry.all_workflows()]
            graphs += [
                ("case_state", diagrams.model_digraph(Case, "state")),
                ("referral_state", diagrams.model_digraph(Referral, "state")),
            ]
        for name, graph in graphs:
            if fmt == "dot":
                path = out / f"{name}.gv"
                path.write_text(graph.source, encoding="utf-8")
            else:
                svg = diagrams.render_svg(graph.source)
                if svg is None:
                    raise CommandError(f"Graphviz could not draw {name}; see the log.")
                path = out / f"{name}.svg"
                path.write_text(svg, encoding="utf-8")
            self.stdout.write(str(path))
