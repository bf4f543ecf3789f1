"""Audio features: log-mel, speech-band envelope, speech activity."""
