"""Demo: synthetic conversations and the seeding that makes `make demo` a working product.

- data.py: generated conversations and their ground-truth labels (standard library only)
- seed.py: `demo_seed`: users, sources, conversations, decisions, escalations and a first trained model
"""
