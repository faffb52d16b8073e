# One image for every actor: `nsp-sandbox up` (all actors) or `nsp-sandbox serve <actor>`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    NSP_SANDBOX_DATA_DIR=/data NSP_SANDBOX_FHIR_PACKAGES=/fhir-packages
WORKDIR /app
COPY pyproject.toml README.md ./
COPY nsp_sandbox ./nsp_sandbox
COPY sandbox ./sandbox
COPY services ./services
RUN pip install --no-cache-dir . && useradd --create-home sandbox && mkdir -p /data /fhir-packages \
    && chown sandbox /data
USER sandbox
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["nsp-sandbox"]
CMD ["up", "--host", "0.0.0.0", "--port", "8080"]
