# mockws in a container: serves the config mounted at /mock.
#
#   docker build -t mockws .
#   docker run --rm -p 127.0.0.1:8765:8765 -v "$PWD/mock:/mock" mockws
#
# Inside the container mockws binds 0.0.0.0 (else -p could not reach it); the
# admin API and inspector are then off unless the config sets admin_token
# (admin_token: ${MOCKWS_ADMIN_TOKEN:-}, and docker run -e MOCKWS_ADMIN_TOKEN=...).
# See docs/docker.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockws ./mockws
RUN pip install . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mockws

USER mockws
WORKDIR /mock
EXPOSE 8765
CMD ["mockws", "serve", "--config", "/mock/mockws.yaml", "--host", "0.0.0.0"]
