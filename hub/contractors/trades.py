"""Reference data: the trade categories every marketplace starts with."""

from __future__ import annotations

TRADES: list[tuple[str, str]] = [
    ("plumbing", "Plumbing"),
    ("electrical", "Electrical"),
    ("hvac", "Heating, ventilation and air conditioning"),
    ("carpentry", "Carpentry"),
    ("roofing", "Roofing"),
    ("painting", "Painting and decorating"),
    ("locksmith", "Locksmith"),
    ("appliance-repair", "Appliance repair"),
    ("landscaping", "Landscaping and gardening"),
    ("cleaning", "Cleaning"),
    ("pest-control", "Pest control"),
    ("handyman", "Handyman"),
    ("flooring", "Flooring"),
    ("masonry", "Masonry and bricklaying"),
    ("glazing", "Windows and glazing"),
    ("moving", "Moving and removals"),
]
