"""Fine-tuning: what a method is (method.py), the methods (methods/, one file each, and their table), how
outputs are saved and reloaded (save_formats.py), and what differs between model families (families.py)."""
