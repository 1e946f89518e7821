"""Campaign folder -> tidy table -> statistics, plots, report. Reads only the campaign folder."""
