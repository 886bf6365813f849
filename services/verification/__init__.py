"""Verification service: a clip -> faceprints and voiceprints -> 1:N search -> consent -> signed receipt."""

SERVICE_NAME = "likeness.verification.v1.VerificationService"
