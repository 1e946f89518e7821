"""Runtimes: how a workload is started (docker, local, apptainer)."""
