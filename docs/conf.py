"""Sphinx configuration of the sklearn_autodiff documentation.

Build (from the repository root, with the ``docs`` extra installed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery executes the ``examples/plot_*.py`` scripts; ``-D plot_gallery=0``
skips running them. MathJax is served from the build itself
(``sphinx-mathjax-offline``), so the pages render formulas without a network.
"""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import sklearn_autodiff  # noqa: E402

project = "sklearn_autodiff"
author = "the sklearn_autodiff developers"
copyright = "the sklearn_autodiff developers"
version = release = sklearn_autodiff.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 files copied into _static/mathjax and mathjax_path pointed at
    # them, instead of a CDN: the built pages need no network.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip",
                    "sg_execution_times.rst", "auto_examples/sg_execution_times.rst"]
root_doc = "index"

# -- API reference -------------------------------------------------------------
autosummary_generate = True
# fit, predict, ... live on the shared base class, so inherited members are
# documented; scikit-learn's metadata-routing methods are not (their
# docstrings point into scikit-learn's own user guide).
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# "On this page" of an API page lists "fit", not "TanhLogisticClassifier.fit"
# (the long names were cut off in the narrow sidebar).
toc_object_entries_show_parents = "hide"
# numpydoc renders the Parameters / Attributes sections; autosummary lists the
# methods, so numpydoc's own member tables would list them twice.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False



def _skip_member(app, what, name, obj, skip, options):
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


_SKLEARN_LABEL = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")


def _unlink_sklearn_labels(app, what, name, obj, options, lines):
    # Methods inherited from scikit-learn (score, get_params, ...) keep their
    # docstrings, whose :ref: and :term: roles point into scikit-learn's own
    # user guide and glossary; without that site they would be dangling, so
    # they are shown as plain text.
    if not getattr(obj, "__module__", "").startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        lines[i] = _SKLEARN_LABEL.sub(r"\1", line)


def _quote_attribute_names(app, what, name, obj, options, lines):
    # A bare ``n_features_in_`` in a type ("ndarray of shape (n_features_in_,)")
    # is read by reST as a link target; scikit-learn quotes it with backticks.
    for i, line in enumerate(lines):
        lines[i] = line.replace("(n_features_in_,)", "(`n_features_in_`,)")


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _quote_attribute_names, priority=400)
    app.connect("autodoc-process-docstring", _unlink_sklearn_labels, priority=400)


# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    # plot_*.py are run and their figures captured; quickstart.py is shown only.
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.example_order",
    "doc_module": ("sklearn_autodiff",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_autodiff": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "image_srcset": [],
    "matplotlib_animations": False,
    # The sg_execution_times pages load jQuery, DataTables and Bootstrap from
    # CDNs; the build prints the same times ("computation time summary").
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_autodiff {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": False,
    # "On this page" everywhere but on the gallery's pages (not listed), which
    # are mostly code with two or three sections: they give the right-hand
    # column to the code (100 columns at 1280 px).
    "secondary_sidebar_items": {
        page: ["page-toc"]
        for page in ("index", "api", "building_docs", "user_guide/*", "generated/*")
    },
    "footer_start": ["copyright"],
    "footer_end": [],
}

# Examples must not try to open windows while the gallery runs them.
os.environ.setdefault("MPLBACKEND", "Agg")
