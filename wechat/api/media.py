"""Image upload for cards (SPEC §3.5: logos and pictures must come from uploadimg)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import BaseAPI

MAX_IMAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UploadedImage:
    url: str


class MediaAPI(BaseAPI):
    def upload_image(
        self,
        content: bytes,
        *,
        filename: str = "image.jpg",
        content_type: str = "image/jpeg",
    ) -> UploadedImage:
        """``cgi-bin/media/uploadimg``: a JPG/PNG of at most 1 MB → its WeChat URL.

        Doc: 卡券 → 创建卡券 → 上传图片 (multipart field ``buffer``).
        Safe to retry: a second upload only makes a second URL.
        """
        data = self.client.call(
            "POST",
            "cgi-bin/media/uploadimg",
            files={"buffer": (filename, content, content_type)},
            safe_to_retry=True,
        )
        return UploadedImage(url=data["url"])
