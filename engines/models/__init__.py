"""Model import (content-addressed artifact store), format sniffing, inspection, demo models."""
