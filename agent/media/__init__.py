"""Audio and frames: µ-law, voice activity detection, and the Pipecat frame processors of a live call."""
