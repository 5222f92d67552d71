"""Template tags shared by every page: times shown in the reader's own zone (`{% load local_time %}`)."""
