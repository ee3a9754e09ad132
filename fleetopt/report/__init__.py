"""The planner's report: one self-contained HTML page per run folder.

`statistics` reads run folders into the numbers behind each figure; `figures` draws them;
`page` lays out the sections of each run kind and writes the file. None of it imports a
solver or Ray, so a report can be made from a copy of a run pulled from anywhere.
"""
