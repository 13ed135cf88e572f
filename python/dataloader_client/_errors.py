# Copyright 2026 The dataloader Authors.
"""DataLoaderError and the gRPC status codes it carries (no dependency on grpcio)."""

import enum


class StatusCode(enum.IntEnum):
    """gRPC status codes, with gRPC's names and values (see data_loader.proto for what the
    service means by each)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class DataLoaderError(Exception):
    """A call to the service failed, or a request or option was refused before it.

    Attributes:
      code: the gRPC status code (StatusCode), e.g. StatusCode.NOT_FOUND for an unknown
        pipeline, INVALID_ARGUMENT for a bad request field, UNAVAILABLE when the server could
        not be reached within the retries.
      message: the server's message (or the client's, for what it refused itself).
    """

    def __init__(self, code, message):
        try:
            code = StatusCode(int(code))
        except ValueError:
            code = StatusCode.UNKNOWN
        self.code = code
        self.message = str(message)
        super().__init__(f"{code.name}: {self.message}")

    def __reduce__(self):  # Picklable: DataLoader workers and DDP pass exceptions on.
        return (DataLoaderError, (int(self.code), self.message))


def invalid_argument(message):
    return DataLoaderError(StatusCode.INVALID_ARGUMENT, message)
