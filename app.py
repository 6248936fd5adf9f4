"""Music-genre dashboard: ``streamlit run app.py``.

Navigation over the pages in ``pages/``; every page is a thin view over the ``genre`` package.
"""

import streamlit as st

st.set_page_config(page_title="Genre: music-genre classification", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/explore.py", title="Explore the data", icon="🔎", url_path="explore"),
    st.Page("pages/leaderboard.py", title="Model leaderboard", icon="🏆", url_path="leaderboard"),
    st.Page("pages/classify.py", title="Classify", icon="🎧", url_path="classify"),
]

st.navigation(PAGES).run()
