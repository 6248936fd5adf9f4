"""Music-genre dashboard: ``streamlit run app.py``.

Navigation (``st.navigation``) over the page modules in ``views/``; every page is a thin view over
the ``genre`` package. The folder is deliberately not called ``pages/``: Streamlit treats a
``pages/`` folder beside the entry point as a v1 multipage app until the entry point has run once,
so a fresh server's first visitor arriving on a deep link (``/classify``) would get the page
script alone, with a file-name sidebar.
"""

import streamlit as st

st.set_page_config(page_title="Genre: music-genre classification", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon="🏠", default=True),
    st.Page("views/explore.py", title="Explore the data", icon="🔎", url_path="explore"),
    st.Page("views/leaderboard.py", title="Model leaderboard", icon="🏆", url_path="leaderboard"),
    st.Page("views/classify.py", title="Classify", icon="🎧", url_path="classify"),
]

st.navigation(PAGES).run()
