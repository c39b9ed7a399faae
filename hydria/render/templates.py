"""The Jinja2 templates beside the renderers (``templates/``), each read and compiled once.

They make configuration text, not HTML: nothing is escaped (the renderers check
every value they put in, ``hydria.render.values``), an undefined name is an error
rather than an empty string, and block tags leave no blank lines behind.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

import jinja2

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # configuration text, not HTML: values are checked by the renderers
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.cache
def template(name: str) -> jinja2.Template:
    """The compiled template ``name`` (a file under ``TEMPLATE_DIR``)."""
    return _environment().get_template(name)
