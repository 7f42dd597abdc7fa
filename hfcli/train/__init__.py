"""Training loops: teach (guidance → teacher), later distill and finetune, on one Trainer."""
