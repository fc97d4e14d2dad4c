# scripts/mmcplot: code shared by scripts/plot, scripts/report and scripts/merge.
#
# Owns reading benchmark run directories (results/README.md is the schema), the chart set,
# the key ratios and the formatting of units. Debian's python3 + python3-matplotlib only.
#
#   schema.py   column names, units and which columns each chart needs
#   rundata.py  RUN_DIR -> Run (typed rows per suite, context.json), schema checks
#   units.py    bytes and nanoseconds for people (4 KiB, 1.2 us) and for axes
#   style.py    palette, markers, figure frame (title, subtitle, legend band, footer)
#   charts.py   the charts; every one takes a list of runs (one run, or many hosts)
#   ratios.py   the key ratios of the report, computed from the rows
