"""The planner's report: one self-contained HTML page per run folder.

`statistics` reads run folders into the numbers behind each figure; `figures` draws them
with Bokeh; `sections` says what each run kind shows, with captions; `page` lays the page out
and writes it; `formats` writes numbers. None of it imports a solver or Ray, so a report can
be made from a copy of a run pulled from anywhere.
"""
