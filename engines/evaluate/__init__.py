"""Accuracy evaluation: labelled top-1/top-5, fidelity to a reference, data sets, preprocessing."""
