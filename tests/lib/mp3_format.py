"""MPEG audio Layer III framing for the test tools: frame lengths from headers, and ID3 tags."""

_BITRATES = (
    (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),  # MPEG-1 Layer III
    (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),  # MPEG-2/2.5 Layer III
)
_RATES = (44100, 48000, 32000, 0)


def frame_length(data, pos=0):
    """Length of the MPEG Layer III frame whose header starts at data[pos], or 0 if none does."""
    if len(data) - pos < 4 or data[pos] != 0xFF or (data[pos + 1] & 0xE0) != 0xE0:
        return 0
    version = (data[pos + 1] >> 3) & 3  # 0: 2.5, 1: reserved, 2: 2, 3: 1
    layer = (data[pos + 1] >> 1) & 3  # 1: Layer III
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 3
    padding = (data[pos + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    rate = _RATES[rate_index] >> (0 if version == 3 else 1 if version == 2 else 2)
    bitrate = _BITRATES[0 if version == 3 else 1][bitrate_index] * 1000
    return (144 if version == 3 else 72) * bitrate // rate + padding


def strip_id3(data):
    """`data` without a leading ID3v2 tag and a trailing ID3v1 tag."""
    if len(data) >= 10 and data[:3] == b"ID3":
        size = ((data[6] & 0x7F) << 21) | ((data[7] & 0x7F) << 14) | ((data[8] & 0x7F) << 7) | (data[9] & 0x7F)
        data = data[10 + size + (10 if data[5] & 0x10 else 0):]
    if len(data) >= 128 and data[-128:-125] == b"TAG":
        data = data[:-128]
    return data
