"""The optimization model as arrays: index sets, numbers, variable layout, costs and one
function per constraint family."""
