"""Live updates: the same partials pushed over websockets after commit.

- broadcast.py: render and send after commit (called by any feature's services; it imports only models and
  reviews/queue_stats.py, so every feature may call it)
- consumers.py: the base consumer (authenticate, join groups, forward); each page subclasses it in its feature
  (workspace/consumers.py, datasets/consumers.py); reviews/ws_urls.py routes them
"""
