# One image for every actor: `nsp-sandbox up` (all actors) or `nsp-sandbox serve <actor>`.
# The wheel is built where there is a C compiler, so that its conformance engine is compiled (setup.py).
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY nsp_sandbox ./nsp_sandbox
COPY sandbox ./sandbox
COPY services ./services
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    NSP_SANDBOX_DATA_DIR=/data NSP_SANDBOX_FHIR_PACKAGES=/fhir-packages
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && useradd --create-home sandbox \
    && mkdir -p /data /fhir-packages && chown sandbox /data
USER sandbox
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["nsp-sandbox"]
CMD ["up", "--host", "0.0.0.0", "--port", "8080"]
