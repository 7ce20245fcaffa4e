"""ASR engines behind `transcripts.engines.base.AsrEngine`; load them with `transcripts.asr`."""
