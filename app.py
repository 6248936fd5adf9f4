"""Music-genre dashboard: ``streamlit run app.py``.

Navigation (``st.navigation``) over the page modules in ``pages/``; every page is a thin view over
the ``genre`` package. Streamlit treats a ``pages/`` folder beside the entry point as a legacy (v1)
multipage app until ``st.navigation`` has run once in the process, so on a fresh server the first
visitor's deep link (``/classify``) runs the page script alone. Each page therefore starts with
``common.use_router()``, which then runs this router in place; ``pages/common/`` is a package so
the legacy scan never lists it as a page. Keep each page's ``url_path`` equal to its file name.

The first lines import the WebRTC stack (aiortc -> pylibsrtp) before anything else can import
TensorFlow: ``import tensorflow`` followed by ``import pylibsrtp`` segfaults the process, the
reverse order is safe (:func:`genre.app.analysis.preload_webrtc`). Then a background thread warms
the default model and librosa's compiled kernels once per process
(:func:`genre.app.analysis.start_warmup`), so the first visitor does not pay for them.
"""

from genre.app import analysis

analysis.preload_webrtc()  # first: before any page can import TensorFlow

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Genre: music-genre classification", page_icon="🎵", layout="wide")
analysis.start_warmup()

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/explore.py", title="Explore the data", icon="🔎", url_path="explore"),
    st.Page("pages/leaderboard.py", title="Model leaderboard", icon="🏆", url_path="leaderboard"),
    st.Page("pages/classify.py", title="Classify", icon="🎧", url_path="classify"),
    st.Page("pages/catalogue.py", title="Catalogue", icon="📚", url_path="catalogue"),
]

st.navigation(PAGES).run()
