"""`python -m dpviz ...`: `main` builds the parser and owns the one exit path; each command family
(`privacy`: epsilon and calibrate; `train`; `runs`: list, show, worker; `export`) registers itself."""
