"""Scoring: risk scores from the detectors' fallback and from our rescoring head; model versions and retraining.

- services.py: `scoring_enqueue`, fallback scores, storing model scores; attempts.py: parking and the sweeper
- model_registry.py: promotion; retraining.py: training requests and model comparison
- training_data.py: labelled examples for the head; embeddings.py: the embedding cache
- text.py: what the encoder reads of a conversation (shared with dataset exports)
The torch side lives in the `worker` app; this package sends it tasks by name (reviews/taskqueue.py).
"""
