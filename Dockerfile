# One image for the Ray head, the Ray workers and the service that runs `nas`.
# torch comes from the package index as TORCH names it; the default, torch==2.13.0, is the
# build that runs on both CPUs and NVIDIA GPUs.
FROM python:3.11-slim
ARG TORCH=torch==2.13.0
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN pip install "${TORCH}"
COPY pyproject.toml README.md ./
COPY evonas ./evonas
RUN pip install '.[postgres]'
RUN useradd --create-home evonas && mkdir -p /data && chown evonas /data
USER evonas
WORKDIR /data
CMD ["nas", "--help"]
