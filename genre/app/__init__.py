"""What the dashboard pages need that is not drawing: data shaping (:mod:`.dashboard`) and
plotly figure builders (:mod:`.plots`). Testable without a Streamlit server; the pages in
``pages/`` are thin views over it."""
