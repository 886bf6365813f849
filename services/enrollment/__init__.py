"""Enrollment service: face and voice templates, encrypted at rest; erasure and retention."""

SERVICE_NAME = "likeness.enrollment.v1.EnrollmentService"
