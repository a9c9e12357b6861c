"""Jindu (禁毒): drug-control governance platform for a city's Narcotics Control Commission."""
