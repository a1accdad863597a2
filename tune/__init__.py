"""Fine-tuning (`ganymede tune`): LoRA adapters trained on an app's data, read through the app registry."""
