"""certdesk: bulk certification, enrolment and licence changes for learning platforms."""
